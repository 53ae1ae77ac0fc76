import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json } from '@sigstore/core';
import type { HttpService } from './http-service';
import { hashChildren } from './merkle-tree';
import { RekorServer, type RekorLogEntry } from './rekor-server';
import { freePort } from '../../test/support/service-process';

/** Root from a leaf and its audit path (RFC 9162 §2.1.3.2), independent of the server's tree code. */
function rootFromProof(index: number, size: number, leafHash: Buffer, proof: Buffer[]): Buffer {
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return r;
}

const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** A hashedrekord proposal as sigstore-js builds it, with the key PEM on one line as @sigstore/mock's Fulcio returns certificates. */
function hashedRekord(text: string) {
  const data = Buffer.from(text);
  const oneLinePem = `-----BEGIN PUBLIC KEY-----\n${signer.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')}\n-----END PUBLIC KEY-----\n`;
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
      signature: { content: sign('sha256', data, signer.privateKey).toString('base64'), publicKey: { content: Buffer.from(oneLinePem).toString('base64') } },
    },
  };
}

describe('local Rekor', () => {
  let dir: string;
  let baseUrl: string;
  let port: number;
  let rekor: RekorServer;
  let http: HttpService;
  let rekorKey: KeyObject;

  async function start(): Promise<void> {
    rekor = await RekorServer.open({ dir, baseUrl });
    http = rekor.createHttpService();
    await http.listen('127.0.0.1', port);
    rekorKey = createPublicKey({ key: rekor.publicKeyDer, format: 'der', type: 'spki' });
  }

  async function stop(): Promise<void> {
    await http.close();
    await rekor.close();
  }

  const post = (body: unknown) => fetch(`${baseUrl}/api/v1/log/entries`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  async function create(body: unknown): Promise<[string, RekorLogEntry]> {
    const response = await post(body);
    expect(response.status).toBe(201);
    const entries = Object.entries((await response.json()) as Record<string, RekorLogEntry>);
    expect(entries).toHaveLength(1);
    return entries[0]!;
  }

  async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${baseUrl}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function expectValidEntry(uuid: string, entry: RekorLogEntry): void {
    const body = Buffer.from(entry.body, 'base64');
    const leafHash = createHash('sha256')
      .update(Buffer.from([0x00]))
      .update(body)
      .digest();
    expect(uuid).toMatch(/^[0-9a-f]{80}$/);
    expect(uuid.slice(16)).toBe(leafHash.toString('hex'));
    expect(entry.logID).toBe(createHash('sha256').update(rekor.publicKeyDer).digest('hex'));
    // SET: the log key's signature over the canonical JSON of {body, integratedTime, logID, logIndex}.
    const setPayload = `{"body":"${entry.body}","integratedTime":${entry.integratedTime},"logID":"${entry.logID}","logIndex":${entry.logIndex}}`;
    expect(verify('sha256', Buffer.from(setPayload), rekorKey, Buffer.from(entry.verification.signedEntryTimestamp, 'base64'))).toBe(true);
    // Inclusion proof up to the signed checkpoint's root.
    const proof = entry.verification.inclusionProof;
    const root = rootFromProof(
      proof.logIndex,
      proof.treeSize,
      leafHash,
      proof.hashes.map((h) => Buffer.from(h, 'hex')),
    );
    expect(root.toString('hex')).toBe(proof.rootHash);
    const [note, signatureLine] = proof.checkpoint.split('\n\n');
    const noteLines = note!.split('\n');
    expect(noteLines[0]).toBe(`127.0.0.1:${port} - ${BigInt(`0x${uuid.slice(0, 16)}`).toString()}`);
    expect(noteLines[1]).toBe(String(proof.treeSize));
    expect(Buffer.from(noteLines[2]!, 'base64').toString('hex')).toBe(proof.rootHash);
    const [, name, hintAndSignature] = /^\u2014 (\S+) (\S+)\n$/.exec(signatureLine!)!;
    expect(name).toBe(`127.0.0.1:${port}`);
    const signatureBytes = Buffer.from(hintAndSignature!, 'base64');
    expect(signatureBytes.subarray(0, 4).toString('hex')).toBe(entry.logID.slice(0, 8));
    expect(verify('sha256', Buffer.from(`${note}\n`), rekorKey, signatureBytes.subarray(4))).toBe(true);
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rekor-spec-'));
    port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    await start();
  });

  afterEach(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('integrates entries at sequential indices and answers in Rekor v1 shape', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await post(hashedRekord('first'));
    expect(response.status).toBe(201);
    const [uuid, entry] = Object.entries((await response.json()) as Record<string, RekorLogEntry>)[0]!;
    expect(response.headers.get('location')).toBe(`/api/v1/log/entries/${uuid}`);
    expect(response.headers.get('etag')).toBe(uuid);
    expect(Object.keys(entry).sort()).toEqual(['body', 'integratedTime', 'logID', 'logIndex', 'verification']);
    expect(Object.keys(entry.verification).sort()).toEqual(['inclusionProof', 'signedEntryTimestamp']);
    expect(Object.keys(entry.verification.inclusionProof).sort()).toEqual(['checkpoint', 'hashes', 'logIndex', 'rootHash', 'treeSize']);
    expect(entry.logIndex).toBe(0);
    expect(entry.integratedTime).toBeGreaterThanOrEqual(before);
    expectValidEntry(uuid, entry);

    const [uuid2, second] = await create(hashedRekord('second'));
    const [uuid3, third] = await create(hashedRekord('third'));
    expect([second.logIndex, third.logIndex]).toEqual([1, 2]);
    expectValidEntry(uuid2, second);
    expectValidEntry(uuid3, third);
  });

  it('stores the canonical body: JCS key order and the key re-encoded as standard PEM', async () => {
    const proposal = hashedRekord('canonical');
    const [, entry] = await create(proposal);
    const body = Buffer.from(entry.body, 'base64').toString('utf8');
    expect(body).toBe(json.canonicalize(JSON.parse(body)));
    const key = Buffer.from((JSON.parse(body) as { spec: { signature: { publicKey: { content: string } } } }).spec.signature.publicKey.content, 'base64').toString();
    expect(key).toBe(signer.publicKey.export({ format: 'pem', type: 'spki' }).toString());
    expect(JSON.parse(body).spec.data).toEqual(proposal.spec.data);
  });

  it('answers 409 with the existing entry location when the same entry is submitted again', async () => {
    const proposal = hashedRekord('twice');
    const [uuid, entry] = await create(proposal);
    const again = await post(proposal);
    expect(again.status).toBe(409);
    expect(again.headers.get('location')).toBe(`/api/v1/log/entries/${uuid}`);
    expect(((await again.json()) as { message: string }).message).toContain(uuid);
    const [, next] = await create(hashedRekord('after the conflict'));
    expect(next.logIndex).toBe(entry.logIndex + 1);
  });

  it('finds entries by log index, by tree-ID+leaf-hash UUID and by leaf hash', async () => {
    await create(hashedRekord('a'));
    const [uuid, entry] = await create(hashedRekord('b'));
    await create(hashedRekord('c'));
    for (const path of [`/api/v1/log/entries?logIndex=1`, `/api/v1/log/entries/${uuid}`, `/api/v1/log/entries/${uuid.slice(16)}`, `/api/v1/log/entries/${uuid.toUpperCase()}`]) {
      const { status, body } = await get(path);
      expect(status).toBe(200);
      expect(Object.keys(body)).toEqual([uuid]);
      const found = body[uuid] as RekorLogEntry;
      expect(found.body).toBe(entry.body);
      expect(found.verification.signedEntryTimestamp).toBe(entry.verification.signedEntryTimestamp);
      // The proof is against the current tree (3 entries), as Rekor does.
      expect(found.verification.inclusionProof.treeSize).toBe(3);
      expectValidEntry(uuid, found);
    }
  });

  it('answers 404 for unknown entries and 400 for malformed lookups, with Rekor-like JSON errors', async () => {
    const [uuid] = await create(hashedRekord('only'));
    const otherTree = `${'0'.repeat(15)}1${uuid.slice(16)}`;
    for (const path of ['/api/v1/log/entries?logIndex=1', `/api/v1/log/entries/${'ab'.repeat(32)}`, `/api/v1/log/entries/${otherTree}`]) {
      const { status, body } = await get(path);
      expect(status).toBe(404);
      expect(body).toEqual({ code: 404, message: expect.any(String) });
    }
    for (const path of ['/api/v1/log/entries?logIndex=-1', '/api/v1/log/entries?logIndex=x', '/api/v1/log/entries/not-a-uuid']) {
      expect((await get(path)).status).toBe(400);
    }
  });

  it('refuses unsupported or invalid proposals with 400', async () => {
    const notJson = await fetch(`${baseUrl}/api/v1/log/entries`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect((await post({ apiVersion: '0.0.2', kind: 'intoto', spec: {} })).status).toBe(400);
    const badHash = hashedRekord('x');
    badHash.spec.data.hash.value = 'abc';
    expect((await post(badHash)).status).toBe(400);
  });

  it('serves log info and the public key', async () => {
    const [, entry] = await create(hashedRekord('info'));
    const { status, body } = await get('/api/v1/log');
    expect(status).toBe(200);
    expect(body).toMatchObject({ treeSize: 1, rootHash: entry.verification.inclusionProof.rootHash, treeID: expect.stringMatching(/^\d+$/) });
    const publicKey = await (await fetch(`${baseUrl}/api/v1/log/publicKey`)).text();
    expect(createPublicKey(publicKey).export({ format: 'der', type: 'spki' }).equals(rekor.publicKeyDer)).toBe(true);
  });

  it('keeps its entries, tree ID and key across a restart and continues the log indices', async () => {
    const [uuid0, first] = await create(hashedRekord('before restart 0'));
    const resubmitted = hashedRekord('before restart 1');
    const [uuid1] = await create(resubmitted);
    const keyBefore = rekor.publicKeyDer;
    await stop();
    await start();
    expect(rekor.publicKeyDer.equals(keyBefore)).toBe(true);

    const { body } = await get(`/api/v1/log/entries/${uuid0}`);
    const kept = body[uuid0] as RekorLogEntry;
    expect(kept.body).toBe(first.body);
    expect(kept.integratedTime).toBe(first.integratedTime);
    expect(kept.verification.signedEntryTimestamp).toBe(first.verification.signedEntryTimestamp);
    const [uuid2, next] = await create(hashedRekord('after restart'));
    expect(next.logIndex).toBe(2);
    expect(uuid2.slice(0, 16)).toBe(uuid1.slice(0, 16));
    expectValidEntry(uuid0, (await get(`/api/v1/log/entries/${uuid0}`)).body[uuid0] as RekorLogEntry);
    // Resubmitting an entry from before the restart is still a conflict.
    expect((await post(resubmitted)).status).toBe(409);
  });

  it('drops a torn last line left by a crash and refuses a damaged log', async () => {
    await create(hashedRekord('complete'));
    await stop();
    await appendFile(join(dir, 'entries.jsonl'), '{"logIndex":1,"integr');
    await start();
    const [, next] = await create(hashedRekord('after the torn write'));
    expect(next.logIndex).toBe(1);
    const lines = (await readFile(join(dir, 'entries.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { logIndex: number }).logIndex)).toEqual([0, 1]);

    await stop();
    await appendFile(join(dir, 'entries.jsonl'), 'garbage\n');
    await expect(RekorServer.open({ dir, baseUrl })).rejects.toThrow(/line 3 is not valid JSON/);
    // Leave a running server for afterEach.
    await rm(join(dir, 'entries.jsonl'));
    await start();
  });
});
