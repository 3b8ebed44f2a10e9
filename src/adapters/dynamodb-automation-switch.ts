import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AutomationFlag, AutomationSwitch } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

/** The automation switch, one item (`FLAG#automation`). */
export class DynamoDbAutomationSwitch implements AutomationSwitch {
  constructor(private readonly table: StateTable) {}

  async getAutomationFlag(): Promise<AutomationFlag> {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({ TableName: this.table.name, Key: stateKeys.automation(), ConsistentRead: true }),
      ),
    );
    if (!found.Item) return { enabled: true };
    const { enabled, changedAt, changedBy, reason } = found.Item;
    return { enabled: enabled !== false, changedAt, changedBy, reason };
  }

  async setAutomationFlag(flag: AutomationFlag) {
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({ TableName: this.table.name, Item: { ...stateKeys.automation(), ...flag } }),
      ),
    );
  }
}
