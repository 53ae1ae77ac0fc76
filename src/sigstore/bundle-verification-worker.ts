/**
 * The entry of a bundle-verification worker thread (see BundleVerificationPool): sigstore-js runs here,
 * off the service's event loop, with the DER-encoding memo installed in this thread only.
 */
import { type BundleVerificationAnswer, type BundleVerificationTask, announceStarted, runBundleVerificationTask } from './bundle-verification-task';
import { memoizeDerEncoding } from './der-encoding-memo';

memoizeDerEncoding();

export function verifyInWorker(task: BundleVerificationTask): BundleVerificationAnswer {
  announceStarted(task);
  return runBundleVerificationTask(task);
}
