import { decodePageCursor, encodePageCursor } from './page-cursor';

const cursor = { createdAt: '2026-11-25T17:49:54.123456Z', id: '0b3c5a1e-8d2f-4c7a-9e61-2f5d8a4b7c90' };
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('signature cursor', () => {
  it('round-trips through an opaque base64url string', () => {
    const text = encodePageCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text).toBe(encode({ c: cursor.createdAt, i: cursor.id }));
    expect(decodePageCursor(text)).toEqual(cursor);
  });

  it('keeps microseconds, which a JavaScript Date would lose', () => {
    expect(decodePageCursor(encodePageCursor(cursor))!.createdAt.endsWith('.123456Z')).toBe(true);
  });

  it.each([
    ['not base64url', 'abc+/='],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['JSON null', encode(null)],
    ['missing id', encode({ c: cursor.createdAt })],
    ['an id that is not a UUID', encode({ c: cursor.createdAt, i: "1' or 1=1" })],
    ['a time that is not RFC 3339 UTC', encode({ c: '2026-11-25 17:49:54', i: cursor.id })],
    ['an impossible date', encode({ c: '2026-13-45T17:49:54Z', i: cursor.id })],
    ['too long', 'a'.repeat(201)],
    ['empty', ''],
  ])('refuses %s', (_what, text) => {
    expect(decodePageCursor(text)).toBeUndefined();
  });
});

describe('a cursor over text ids', () => {
  const isMessageId = (id: string) => /^msg_[A-Za-z0-9_-]{1,60}$/.test(id);
  const messageCursor = { createdAt: cursor.createdAt, id: 'msg_2b7Q4pVb8nY1c0kQ3sJm5d6w' };

  it('round-trips when the listing says what its ids look like', () => {
    expect(decodePageCursor(encodePageCursor(messageCursor), isMessageId)).toEqual(messageCursor);
  });

  it('is refused where ids are UUIDs, and a UUID cursor where ids are webhook-ids', () => {
    expect(decodePageCursor(encodePageCursor(messageCursor))).toBeUndefined();
    expect(decodePageCursor(encodePageCursor(cursor), isMessageId)).toBeUndefined();
    expect(decodePageCursor(encode({ c: cursor.createdAt, i: "msg_x' or '1'='1" }), isMessageId)).toBeUndefined();
  });
});
