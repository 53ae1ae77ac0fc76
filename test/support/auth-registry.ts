import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { hashSync } from 'bcryptjs';
import { SignJWT, importPKCS8 } from 'jose';
import { freePort, sleep, tempDir } from './service-process';
import { selfSignedCertificate } from './openssl-x509';

/**
 * A real registry (Debian's docker-registry, distribution 2.8) of one test's own that demands
 * authentication: `htpasswd` (Basic) or `token` (Bearer tokens from a token server, here `TokenServer`).
 */
export class AuthRegistry {
  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
    private readonly dir: string,
    readonly address: string,
  ) {}

  /** `auth` is the YAML of distribution's `auth:` section, indented by four spaces. */
  static async start(auth: string): Promise<AuthRegistry> {
    const dir = tempDir('auth-registry');
    const address = `127.0.0.1:${await freePort()}`;
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${JSON.stringify(address)}`,
      'auth:',
      auth,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'config.yml'), config);
    // distribution reads REGISTRY_* variables as configuration overrides: pass none.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
    const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const registry = new AuthRegistry(child, exited, dir, address);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const failed = await Promise.race([spawnError.then((error) => error.message), exited.then((code) => `exited with ${code}`), sleep(100).then(() => undefined)]);
      if (failed) throw new Error(`docker-registry ${failed}:\n${output}`);
      // Up: /v2/ answers, with a 401 since every request needs credentials.
      const status = await fetch(`http://${address}/v2/`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 401) return registry;
    }
    await registry.stop();
    throw new Error(`docker-registry did not answer on ${address}:\n${output}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An htpasswd file (bcrypt, as distribution requires) with one user; returns its path. */
export function htpasswdFile(username: string, password: string): string {
  const file = join(tempDir('htpasswd'), 'htpasswd');
  writeFileSync(file, `${username}:${hashSync(password, 10)}\n`);
  return file;
}

/**
 * A token server for distribution's "token authentication": GET `/token?service=…&scope=…` with Basic
 * credentials. The right credentials get every action they ask for; no credentials an anonymous token
 * that grants nothing (as public registries answer); wrong ones a 401. Tokens are ES256 JWTs carrying
 * their certificate (`x5c`), which the registry trusts through `rootcertbundle`.
 */
export class TokenServer {
  readonly issued: { account: string; scopes: string[] }[] = [];

  private constructor(
    private readonly server: Server,
    readonly certificateFile: string,
    readonly service: string,
    readonly issuer: string,
  ) {}

  static async start(username: string, password: string): Promise<TokenServer> {
    const { keyFile, certFile: certificateFile } = selfSignedCertificate('/CN=test token issuer');
    const key = await importPKCS8(readFileSync(keyFile, 'utf8'), 'ES256');
    const der = Buffer.from(readFileSync(certificateFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
    const service = 'test-registry';
    const issuer = 'test-token-issuer';
    let tokenServer: TokenServer | undefined;

    const server = createServer((request, response) => {
      void (async () => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        const authorization = request.headers.authorization;
        const [user, pass] = authorization?.startsWith('Basic ') ? Buffer.from(authorization.slice(6), 'base64').toString().split(':') : [];
        if (authorization && (user !== username || pass !== password)) {
          response.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"wrong credentials"}]}');
          return;
        }
        const scopes = url.searchParams
          .getAll('scope')
          .flatMap((s) => s.split(' '))
          .filter(Boolean);
        const access = authorization
          ? scopes.map((scope) => {
              const [type, name, actions] = scope.split(':');
              return { type, name, actions: actions!.split(',') };
            })
          : [];
        const account = authorization ? username : '';
        tokenServer!.issued.push({ account, scopes });
        const token = await new SignJWT({ access })
          .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [der] })
          .setIssuer(issuer)
          .setSubject(account)
          .setAudience(url.searchParams.get('service') ?? '')
          .setIssuedAt()
          .setNotBefore('-10s')
          .setExpirationTime('5m')
          .setJti(randomUUID())
          .sign(key);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
      })().catch(() => response.writeHead(500).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenServer = new TokenServer(server, certificateFile, service, issuer);
    return tokenServer;
  }

  get realm(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/token`;
  }

  /** The registry's `auth:` section for this token server. */
  registryAuth(): string {
    return [
      '  token:',
      `    realm: ${JSON.stringify(this.realm)}`,
      `    service: ${JSON.stringify(this.service)}`,
      `    issuer: ${JSON.stringify(this.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(this.certificateFile)}`,
    ].join('\n');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
