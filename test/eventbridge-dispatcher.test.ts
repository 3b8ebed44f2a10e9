import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeDispatcher } from '../src/adapters/eventbridge-dispatcher.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import { DependencyUnavailableError } from '../src/ports.ts';

interface Entry {
  EventBusName: string;
  Source: string;
  DetailType: string;
  Detail: string;
  Resources: string[];
}

/**
 * A loopback endpoint speaking EventBridge's PutEvents wire protocol (AWS JSON 1.1), so the production
 * adapter and the real SDK client are exercised end to end. `failNext` entries answer ThrottlingException.
 */
class PutEventsEndpoint {
  readonly calls: Entry[][] = [];
  failNext = 0;
  status = 200;
  private server?: Server;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
          res.writeHead(400).end();
          return;
        }
        if (this.status !== 200) {
          res.writeHead(this.status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify({ __type: 'InternalException', message: 'down' }));
          return;
        }
        const { Entries } = JSON.parse(body) as { Entries: Entry[] };
        this.calls.push(Entries);
        const results = Entries.map((_, i) =>
          this.failNext-- > 0
            ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
            : { EventId: `event-${this.calls.length}-${i}` },
        );
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
            Entries: results,
          }),
        );
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const request = (i: number): ActionRequest =>
  actionRequestSchema.parse({
    actionId: `action-number-${i}`,
    kind: i % 2 ? 'probe' : 'escalate',
    trigger: 'alert',
    requestedAt: '2026-11-23T03:00:00Z',
    dryRun: false,
    incidentId: '20261123-0a0b0c0d',
  });

describe('Class: EventBridgeDispatcher', () => {
  const endpoint = new PutEventsEndpoint();
  let client: EventBridgeClient;
  beforeAll(async () => {
    client = new EventBridgeClient({
      endpoint: await endpoint.start(),
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await endpoint.stop();
  });
  beforeEach(() => {
    endpoint.calls.length = 0;
    endpoint.failNext = 0;
    endpoint.status = 200;
  });

  it('puts one "Action Requested" event per request, ten per call', async () => {
    await new EventBridgeDispatcher(client, 'responder-bus').dispatch(
      Array.from({ length: 23 }, (_, i) => request(i)),
    );
    expect(endpoint.calls.map((call) => call.length)).toEqual([10, 10, 3]);
    const first = endpoint.calls[0]?.[0];
    expect(first).toMatchObject({
      EventBusName: 'responder-bus',
      Source: 'responder',
      DetailType: 'Action Requested',
      Resources: ['responder:incident/20261123-0a0b0c0d'],
    });
    expect(JSON.parse(first?.Detail ?? '{}')).toMatchObject({
      actionId: 'action-number-0',
      kind: 'escalate',
    });
  });

  it('resends only the entries that were throttled', async () => {
    endpoint.failNext = 2;
    const waits: number[] = [];
    await new EventBridgeDispatcher(client, 'responder-bus', async (ms) => {
      waits.push(ms);
    }).dispatch([request(1), request(2), request(3)]);
    expect(waits).toEqual([100]);
    expect(endpoint.calls.map((call) => call.map((entry) => JSON.parse(entry.Detail).actionId))).toEqual([
      ['action-number-1', 'action-number-2', 'action-number-3'],
      ['action-number-1', 'action-number-2'],
    ]);
  });

  it('gives up with a retryable error when entries keep failing', async () => {
    endpoint.failNext = 100;
    const waits: number[] = [];
    await expect(
      new EventBridgeDispatcher(client, 'responder-bus', async (ms) => {
        waits.push(ms);
      }).dispatch([request(1)]),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(endpoint.calls).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
  });

  it('reports an unavailable bus as retryable', async () => {
    endpoint.status = 500;
    await expect(new EventBridgeDispatcher(client, 'responder-bus').dispatch([request(1)])).rejects.toThrow(
      /event bus \(EventBridge\) is unavailable/,
    );
  });

  it('sends nothing for no requests', async () => {
    await new EventBridgeDispatcher(client, 'responder-bus').dispatch([]);
    expect(endpoint.calls).toEqual([]);
  });
});
