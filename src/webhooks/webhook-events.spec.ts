import type { JobRow, JobStep } from '../database/database.types';
import { deliveryId, eventsFor } from './webhook-events.service';

const step = (name: JobStep['name'], state: JobStep['state']): JobStep => ({ name, state, attempts: 1, startedAt: null, finishedAt: null, worker: null, error: null });
const job = (patch: Partial<JobRow>): JobRow =>
  ({ id: '00000000-0000-4000-8000-000000000001', type: 'publish', state: 'running', steps: [], result: null, error: null, callback_url: null, ...patch }) as JobRow;

describe('eventsFor', () => {
  it('emits signature.created after a sign step that recorded signatures', () => {
    const signed = job({ steps: [step('push', 'succeeded'), step('sign', 'succeeded'), step('verify', 'pending')], result: { signatures: [{ id: 'x' }] } });
    expect(eventsFor(signed, 'sign')).toEqual(['signature.created']);
    expect(eventsFor(signed, 'push')).toEqual([]);
    expect(eventsFor({ ...signed, result: { signatures: [] } }, 'sign')).toEqual([]);
  });

  it('emits job.succeeded, with verification.succeeded or verification.failed for the answer', () => {
    expect(eventsFor(job({ state: 'succeeded', result: { verification: { verified: true } } }), 'verify')).toEqual(['verification.succeeded', 'job.succeeded']);
    expect(eventsFor(job({ type: 'verify', state: 'succeeded', result: { verified: true } }), 'verify')).toEqual(['verification.succeeded', 'job.succeeded']);
    expect(eventsFor(job({ type: 'verify', state: 'succeeded', result: { verified: false } }), 'verify')).toEqual(['verification.failed', 'job.succeeded']);
  });

  it('emits job.failed, with verification.failed when the verify step failed', () => {
    expect(eventsFor(job({ state: 'failed', error: { code: 'X', message: 'm', step: 'push' } }), 'push')).toEqual(['job.failed']);
    expect(eventsFor(job({ state: 'failed', error: { code: 'X', message: 'm', step: 'verify' } }), 'verify')).toEqual(['verification.failed', 'job.failed']);
  });
});

describe('deliveryId', () => {
  it('is stable for one job, event and target and differs otherwise', () => {
    const id = deliveryId('j1', 'job.succeeded', 'w1');
    expect(id).toMatch(/^msg_[A-Za-z0-9_-]{27}$/);
    expect(deliveryId('j1', 'job.succeeded', 'w1')).toBe(id);
    expect(deliveryId('j1', 'job.failed', 'w1')).not.toBe(id);
    expect(deliveryId('j1', 'job.succeeded', 'w2')).not.toBe(id);
  });
});
