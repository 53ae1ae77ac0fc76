/** Stops what global setup started, newest first. */
export default async function globalTeardown(): Promise<void> {
  // Emptied as it goes: with two projects sharing the setup, the second teardown finds nothing left.
  const started = (globalThis as { __testTeardown?: Array<() => Promise<void>> }).__testTeardown?.splice(0) ?? [];
  for (const stop of started.reverse()) await stop();
}
