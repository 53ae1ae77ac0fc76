import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import type { RegistryEgressPolicy } from './registry-egress-policy';
import type { FetchFunction } from './registry-http';

/**
 * fetch whose every connection obeys a RegistryEgressPolicy, checked when the connection is made: a host
 * written as an address is checked as is; a name is resolved once, all its addresses are checked, and the
 * socket connects to those same addresses (the lookup hands them to the socket), so DNS cannot answer
 * one address for the check and another for the connection. Redirects and token services are covered,
 * since they connect through the same agent.
 *
 * Node's global fetch cannot be given a connector of our own without an undici Agent, and the undici
 * bundled in Node is not exported; the undici package is used instead, its fetch with its Agent (mixing
 * the package's Agent with Node's fetch is unsupported across versions).
 */
export function egressGuardedFetch(policy: RegistryEgressPolicy): FetchFunction {
  const checkedLookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refusal = policy.refusalOf(
        hostname,
        addresses.map((a) => a.address),
      );
      if (refusal) return callback(Object.assign(refusal, { errno: undefined }) as NodeJS.ErrnoException, '', 0);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no addresses`), { code: 'ENOTFOUND' }), '', 0);
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const connect = buildConnector({ lookup: checkedLookup } as buildConnector.BuildOptions);
  const agent = new Agent({
    connect: (options, callback) => {
      // Node skips the lookup for a host that is an address: check it here.
      const refusal = policy.refusalBeforeLookup(options.hostname);
      if (refusal) return callback(refusal, null);
      return connect(options, callback);
    },
  });
  return ((input: Parameters<FetchFunction>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: agent })) as unknown as FetchFunction;
}
