/** A PostgreSQL database of its own for one test file, dropped afterwards. */
export { ScratchDatabase as TestDatabase } from '../../dev/scratch-database';
