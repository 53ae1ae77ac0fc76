import type { FaultSpec } from '../../dev/stack/fault-injection';

/** Asks a local stack service (its base URL) to fail as `fault` says; see dev/stack/fault-injection.ts. */
export async function injectFault(baseUrl: string, fault: FaultSpec): Promise<void> {
  const response = await fetch(`${new URL(baseUrl).origin}/__faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  if (response.status !== 201) throw new Error(`fault not accepted by ${baseUrl}: HTTP ${response.status} ${await response.text()}`);
}

/** Drops every pending fault of a stack service. */
export async function clearFaults(baseUrl: string): Promise<void> {
  const response = await fetch(`${new URL(baseUrl).origin}/__faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"clear":true}' });
  if (!response.ok) throw new Error(`faults not cleared on ${baseUrl}: HTTP ${response.status}`);
}

/** The faults still pending (not yet used up) on a stack service. */
export async function pendingFaults(baseUrl: string): Promise<FaultSpec[]> {
  return ((await (await fetch(`${new URL(baseUrl).origin}/__faults`)).json()) as { faults: FaultSpec[] }).faults;
}
