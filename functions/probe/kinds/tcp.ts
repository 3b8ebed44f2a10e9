import { connect } from 'node:net';
import type { TcpTarget } from '../../../src/config/probe-targets.ts';
import { describeError, fail, type ProbeKindRunner, pass } from '../probe-result.ts';

/** Connects and closes: the port accepts connections. */
export const probeTcp: ProbeKindRunner<TcpTarget> = (target, { signal }) =>
  new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const done = (outcome: ReturnType<typeof pass>) => {
      socket.destroy();
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => done(fail('timed out connecting'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(pass(`connected to ${target.host}:${target.port}`)));
    socket.once('error', (error) =>
      done(fail(`cannot connect to ${target.host}:${target.port}: ${describeError(error)}`)),
    );
  });
