import { isIP } from 'node:net';
import { AddressAllowlist, INTERNAL_ADDRESS_KINDS, refusedAddress } from '../common/address-policy';
import { HostPatterns } from '../common/host-patterns';

/**
 * Where the registry client may connect. Every reference a caller names makes the service connect to
 * its registry, so without a policy a caller could make the service probe its own network or read a
 * cloud metadata service. Two rules:
 *
 * - the registry a caller names must match `allowedHosts` (REGISTRY_ALLOWED_HOSTS; empty: any host);
 *   redirects and token services the registry itself names are not matched against it;
 * - every connection (to the registry, its token service, storage it redirects to) goes to a public
 *   address, unless `privateAllowlist` (REGISTRY_PRIVATE_ALLOWLIST) allows the host name or the address.
 *   The check is made on the addresses the name resolved to, when the connection is made, and the
 *   connection goes to those addresses: a name cannot resolve to a public address for the check and to
 *   an internal one for the connection.
 *
 * Pure decisions; registry-egress-fetch.ts applies them to connections.
 */
export interface RegistryEgressOptions {
  allowedHosts?: readonly string[];
  privateAllowlist?: readonly string[];
}

/** Names of cloud metadata services, refused by name (before any lookup) unless allowlisted by name. */
const METADATA_HOST_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

/** Why a connection may not be made: `host` is what was connected to, `address` what it resolved to. */
export class EgressRefusedError extends Error {
  readonly code = 'REGISTRY_ADDRESS_REFUSED';

  constructor(
    readonly host: string,
    readonly address: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'EgressRefusedError';
  }
}

export class RegistryEgressPolicy {
  readonly #allowedHosts: HostPatterns;
  readonly #privateAllowlist: AddressAllowlist;

  constructor(options: RegistryEgressOptions = {}) {
    this.#allowedHosts = new HostPatterns(options.allowedHosts ?? [], 'REGISTRY_ALLOWED_HOSTS');
    this.#privateAllowlist = new AddressAllowlist(options.privateAllowlist ?? [], 'REGISTRY_PRIVATE_ALLOWLIST');
  }

  /** Whether callers may name this registry (`host[:port]` as in a reference). */
  allowsRegistry(registry: string): boolean {
    return this.#allowedHosts.size === 0 || this.#allowedHosts.matches(registry);
  }

  /**
   * The refusal of a connection to `host` (a name or an address, without brackets), before any lookup:
   * an internal address written as such, or a cloud metadata service's name. Undefined when the host may
   * be looked up (its addresses are then checked by `refusalOf`).
   */
  refusalBeforeLookup(host: string): EgressRefusedError | undefined {
    const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
    if (isIP(bare)) return this.refusalOf(bare, [bare]);
    const name = bare.replace(/\.$/, '');
    if (METADATA_HOST_NAMES.has(name) && !this.#privateAllowlist.allowsHost(name)) {
      return new EgressRefusedError(host, undefined, `${name} is a cloud metadata service; allow it with REGISTRY_PRIVATE_ALLOWLIST`);
    }
    return undefined;
  }

  /** The refusal of a connection to `host`, which resolved to `addresses`; undefined when it may be made. */
  refusalOf(host: string, addresses: readonly string[]): EgressRefusedError | undefined {
    const bare = host.replace(/^\[|\]$/g, '');
    const refused = refusedAddress(bare, addresses, this.#privateAllowlist);
    if (refused === undefined) return undefined;
    const what = isIP(bare) ? `${refused} is` : `${bare} resolves to ${refused},`;
    return new EgressRefusedError(host, refused, `${what} an internal address (${INTERNAL_ADDRESS_KINDS}); allow it with REGISTRY_PRIVATE_ALLOWLIST`);
  }
}
