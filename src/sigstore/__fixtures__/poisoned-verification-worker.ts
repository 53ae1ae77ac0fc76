/**
 * A bundle-verification worker for the pool's tests: the real one, except for bundles that carry a
 * `poison` field, which bring the thread down the ways a dependency could — running out of heap, a
 * native-style abort of the thread, or never finishing.
 */
import { type BundleVerificationAnswer, type BundleVerificationTask, announceStarted } from '../bundle-verification-task';
import { verifyInWorker as realVerify } from '../bundle-verification-worker';

export function verifyInWorker(task: BundleVerificationTask): BundleVerificationAnswer {
  const poison = (task.bundle as { poison?: string } | null)?.poison;
  if (poison) announceStarted(task);
  if (poison === 'out-of-memory') {
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array<number>(1_000_000).fill(hoard.length));
  }
  if (poison === 'exit') process.exit(70);
  if (poison === 'endless') for (;;);
  return realVerify(task);
}
