import type { StateStore } from '../ports.ts';
import { DynamoDbAuditTrail } from './dynamodb-audit-trail.ts';
import { DynamoDbAutomationSwitch } from './dynamodb-automation-switch.ts';
import { DynamoDbDeliveryDedupe } from './dynamodb-delivery-dedupe.ts';
import { DynamoDbEscalationStore } from './dynamodb-escalation-store.ts';
import { DynamoDbFloodLimits } from './dynamodb-flood-limits.ts';
import { DynamoDbIncidentStore } from './dynamodb-incident-store.ts';
import { DynamoDbTargetHealthStore } from './dynamodb-target-health-store.ts';
import { StateTable, type StateTableProps } from './state-table.ts';

export { ensureStateTable } from './state-table.ts';
export { STATE_TABLE_KEYS } from './state-table-schema.ts';

/**
 * Every state port over one table client: one adapter per concern, each method bound, so a caller
 * (or a test's wrapper) can hand the bundle around and pass on only the ports a function uses.
 */
export function dynamoDbStateStore(props: StateTableProps): StateStore {
  const table = new StateTable(props);
  const deliveries = new DynamoDbDeliveryDedupe(table);
  const incidents = new DynamoDbIncidentStore(table);
  const audit = new DynamoDbAuditTrail(table);
  const targetHealth = new DynamoDbTargetHealthStore(table);
  const escalations = new DynamoDbEscalationStore(table);
  const floodLimits = new DynamoDbFloodLimits(table);
  const automation = new DynamoDbAutomationSwitch(table);
  return {
    claimDelivery: deliveries.claimDelivery.bind(deliveries),
    finishDelivery: deliveries.finishDelivery.bind(deliveries),
    releaseDelivery: deliveries.releaseDelivery.bind(deliveries),
    findGroupPointer: incidents.findGroupPointer.bind(incidents),
    findCurrentIncident: incidents.findCurrentIncident.bind(incidents),
    openIncident: incidents.openIncident.bind(incidents),
    saveIncident: incidents.saveIncident.bind(incidents),
    getIncident: incidents.getIncident.bind(incidents),
    listIncidents: incidents.listIncidents.bind(incidents),
    appendAudit: audit.appendAudit.bind(audit),
    listAudit: audit.listAudit.bind(audit),
    listSystemAudit: audit.listSystemAudit.bind(audit),
    getTargetHealth: targetHealth.getTargetHealth.bind(targetHealth),
    saveTargetHealth: targetHealth.saveTargetHealth.bind(targetHealth),
    listTargetHealth: targetHealth.listTargetHealth.bind(targetHealth),
    getEscalation: escalations.getEscalation.bind(escalations),
    saveEscalation: escalations.saveEscalation.bind(escalations),
    listDueEscalations: escalations.listDueEscalations.bind(escalations),
    takeFloodBudget: floodLimits.takeFloodBudget.bind(floodLimits),
    returnFloodBudget: floodLimits.returnFloodBudget.bind(floodLimits),
    getAutomationFlag: automation.getAutomationFlag.bind(automation),
    setAutomationFlag: automation.setAutomationFlag.bind(automation),
  };
}
