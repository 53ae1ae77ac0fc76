import { createHash } from 'node:crypto';
import { CappedLog } from './capped-log';

describe('CappedLog', () => {
  it('keeps everything under the limit, passes it on as text, and digests what it kept', () => {
    const passed: string[] = [];
    const log = new CappedLog(1024, (text) => passed.push(text));
    log.add(Buffer.from('Compiling hello v0.1.0\n'));
    log.add(Buffer.from('Finished release\n'));
    const kept = log.finish();
    expect(kept).toEqual({
      text: 'Compiling hello v0.1.0\nFinished release\n',
      digest: `sha256:${createHash('sha256').update('Compiling hello v0.1.0\nFinished release\n').digest('hex')}`,
      bytes: 40,
      truncated: false,
    });
    expect(passed.join('')).toBe(kept.text);
  });

  it('keeps the first bytes up to the limit, counts the rest, and says it was cut', () => {
    const log = new CappedLog(10);
    log.add(Buffer.from('0123456789abcdef'));
    log.add(Buffer.from('more'));
    expect(log.finish()).toMatchObject({ text: '0123456789', bytes: 20, truncated: true });
  });

  it('never splits a UTF-8 character between chunks, and the digest is over the text it returns', () => {
    const passed: string[] = [];
    const log = new CappedLog(1024, (text) => passed.push(text));
    const snowman = Buffer.from('☃');
    log.add(snowman.subarray(0, 1));
    log.add(Buffer.concat([snowman.subarray(1), Buffer.from(' ok\n')]));
    const kept = log.finish();
    expect(passed).toEqual(['☃ ok\n']);
    expect(kept.digest).toBe(`sha256:${createHash('sha256').update(Buffer.from(kept.text, 'utf8')).digest('hex')}`);
  });

  it('drops a character cut by the limit instead of keeping half of it', () => {
    const log = new CappedLog(2);
    log.add(Buffer.from('a☃'));
    const kept = log.finish();
    expect(kept.text).toBe('a');
    expect(kept.truncated).toBe(true);
  });

  it('shows NUL as U+FFFD (a text column cannot hold it), in the text passed on, the text kept and its digest', () => {
    const passed: string[] = [];
    const log = new CappedLog(1024, (text) => passed.push(text));
    log.add(Buffer.from('a\u0000b\n'));
    const kept = log.finish();
    expect(kept.text).toBe('a\ufffdb\n');
    expect(passed.join('')).toBe(kept.text);
    expect(kept.digest).toBe(`sha256:${createHash('sha256').update(kept.text, 'utf8').digest('hex')}`);
  });
});
