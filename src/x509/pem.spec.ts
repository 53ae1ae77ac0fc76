import { PemDecodeError, pemToDer, toPem } from './pem';

describe('toPem', () => {
  it('wraps base64 at 64 characters between BEGIN and END lines', () => {
    // 90 bytes: 120 base64 characters, one full line and one of 56.
    const der = Buffer.from(Array.from({ length: 90 }, (_, i) => i));
    const pem = toPem(der);
    const lines = pem.split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[1]).toHaveLength(64);
    expect(lines[2]).toHaveLength(56);
    expect(lines[3]).toBe('-----END CERTIFICATE-----');
    expect(lines[4]).toBe('');
    expect(lines.slice(1, 3).join('')).toBe(der.toString('base64'));
  });
});

describe('pemToDer', () => {
  it('reads back what toPem wrote', () => {
    const der = Buffer.from(Array.from({ length: 200 }, (_, i) => i % 256));
    expect(pemToDer(toPem(der))).toEqual(der);
  });

  it('refuses a text without a CERTIFICATE block', () => {
    expect(() => pemToDer('not a pem')).toThrow(PemDecodeError);
  });
});
