import { ScratchDatabase } from '../../dev/scratch-database';

/** A PostgreSQL database created for one benchmark and dropped after it. */
export const BenchDatabase = {
  create: (serverUrl: string, label: string): Promise<ScratchDatabase> => ScratchDatabase.create(serverUrl, `wasm_signer_bench_${label}`),
};
