import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import type { TlsTarget } from '../../../src/config/probe-targets.ts';
import { describeError, fail, type ProbeKindRunner, pass } from '../probe-result.ts';

const DAY_MS = 86_400_000;

/** Handshakes and checks the certificate: chain trusted, valid for the name, and days until it expires. */
export const probeTls: ProbeKindRunner<TlsTarget> = (target, { signal }) =>
  new Promise((resolve) => {
    const serverName = target.serverName ?? target.host;
    const socket = connect({
      host: target.host,
      port: target.port,
      servername: serverName,
      ca: target.caPem,
      // Verified below, so that an untrusted or mismatched certificate is still measured and named.
      rejectUnauthorized: false,
    });
    const finish = (outcome: ReturnType<typeof pass>) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = () => finish(fail('timed out during the TLS handshake'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error) =>
      finish(fail(`TLS to ${target.host}:${target.port} failed: ${describeError(error)}`)),
    );
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      if (!cert?.valid_to) return finish(fail('the server sent no certificate'));
      const daysLeft = Math.floor(((Date.parse(cert.valid_to) - Date.now()) / DAY_MS) * 10) / 10;
      const observed = {
        daysToExpiry: daysLeft,
        expiresAt: new Date(cert.valid_to).toISOString(),
        warning: false,
      };
      const identityError = checkServerIdentity(serverName, cert);
      if (daysLeft < 0)
        return finish(fail(`certificate for ${serverName} expired ${-daysLeft} days ago`, observed));
      if (identityError)
        return finish(fail(`certificate is not valid for ${serverName}: ${identityError.message}`, observed));
      if (!socket.authorized) {
        return finish(
          fail(`certificate chain is not trusted: ${String(socket.authorizationError)}`, observed),
        );
      }
      if (daysLeft < target.criticalDays) {
        return finish(
          fail(
            `certificate for ${serverName} expires in ${daysLeft} days (critical under ${target.criticalDays})`,
            observed,
          ),
        );
      }
      if (daysLeft < target.warningDays) {
        return finish(
          pass(
            `certificate for ${serverName} expires in ${daysLeft} days (warning under ${target.warningDays})`,
            {
              ...observed,
              warning: true,
            },
          ),
        );
      }
      finish(pass(`certificate for ${serverName} is trusted and valid for ${daysLeft} more days`, observed));
    });
  });
