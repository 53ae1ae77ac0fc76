import { canonicalJson, requestFingerprint } from './request-fingerprint';

describe('request fingerprint', () => {
  it('ignores key order and absent members, at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(requestFingerprint('sign', { reference: 'r', callbackUrl: undefined })).toBe(requestFingerprint('sign', { reference: 'r' }));
  });

  it('tells apart different values, types and kinds', () => {
    const base = requestFingerprint('verify', { policy: { certificateIdentity: 'a' } });
    expect(requestFingerprint('verify', { policy: { certificateIdentity: 'b' } })).not.toBe(base);
    expect(requestFingerprint('verify', { policy: { certificateIdentity: ['a'] } })).not.toBe(base);
    expect(requestFingerprint('sign', { policy: { certificateIdentity: 'a' } })).not.toBe(base);
    expect(canonicalJson({ a: '1' })).not.toBe(canonicalJson({ a: 1 }));
  });
});
