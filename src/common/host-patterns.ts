import { isIPv6 } from 'node:net';

/**
 * A list of `host[:port]` patterns, such as REGISTRY_ALLOWED_HOSTS: which hosts a caller may name.
 *
 * - `registry.example.com` matches that host on any port;
 * - `registry.example.com:5000` only on that port (a reference without a port is on 443, HTTPS's default);
 * - `*.example.com` matches any host under example.com (`a.example.com`, `a.b.example.com`), not
 *   example.com itself; a port may follow;
 * - `127.0.0.1:5000`, `[::1]:5000`: addresses as written in a reference (IPv6 in brackets).
 *
 * Host names compare case-insensitively and IPv6 addresses in their canonical form. An empty list
 * matches nothing: whether "no patterns" means "any host" is the caller's decision.
 */
export class HostPatterns {
  private readonly patterns: { host: string; wildcard: boolean; port: string | undefined }[] = [];

  constructor(entries: readonly string[], variable: string) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (!entry) continue;
      const parsed = parseHostPort(entry.startsWith('*.') ? entry.slice(2) : entry);
      if (!parsed || (entry.startsWith('*.') && parsed.host.startsWith('['))) {
        throw new Error(`${variable} entry ${raw} is not a host[:port] pattern (host name, *.domain, IPv4 address or [IPv6 address], then an optional :port)`);
      }
      this.patterns.push({ host: parsed.host, wildcard: entry.startsWith('*.'), port: parsed.writtenPort });
    }
  }

  get size(): number {
    return this.patterns.length;
  }

  /** Whether `hostPort` (`host[:port]` as in a reference) matches one of the patterns. */
  matches(hostPort: string): boolean {
    const target = parseHostPort(hostPort);
    if (!target) return false;
    const port = target.writtenPort ?? '443';
    return this.patterns.some((pattern) => {
      if (pattern.port !== undefined && pattern.port !== port) return false;
      return pattern.wildcard ? target.host.endsWith(`.${pattern.host}`) : target.host === pattern.host;
    });
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** `host[:port]` split in canonical form (lower case, IPv6 compressed and in brackets, port 443 as none), or undefined when it is not one. */
export function splitHostPort(text: string): { host: string; port: string | undefined } | undefined {
  const parsed = parseHostPort(text);
  return parsed && { host: parsed.host, port: parsed.writtenPort === '443' ? undefined : parsed.writtenPort };
}

/** `host[:port]` with the host in canonical form and the port as written (undefined when none). */
function parseHostPort(text: string): { host: string; writtenPort: string | undefined } | undefined {
  const match = /^(\[[^\]]*\]|[^:[\]]+)(?::([1-9][0-9]{0,4}))?$/.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const [, rawHost, rawPort] = match as unknown as [string, string, string | undefined];
  if (rawPort !== undefined && Number(rawPort) > 65535) return undefined;
  let host: string;
  if (rawHost.startsWith('[')) {
    const address = rawHost.slice(1, -1);
    if (!isIPv6(address)) return undefined;
    // The WHATWG URL parser writes an IPv6 address in its canonical (RFC 5952) form, in brackets.
    host = new URL(`https://[${address}]/`).hostname;
  } else {
    if (!HOST_NAME.test(rawHost)) return undefined;
    host = rawHost;
  }
  return { host, writtenPort: rawPort };
}
