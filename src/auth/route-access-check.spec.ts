import { Controller, Get, Post } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Authorize } from '../access/authorize';
import { RouteAccessCheck } from './route-access-check';

@Controller('v1/things')
@Authorize('records:read')
class DeclaredController {
  @Get()
  list(): string[] {
    return [];
  }

  @Post()
  @Authorize('admin')
  create(): void {}
}

@Controller('v1/forgotten')
class ForgottenController {
  @Get(':id')
  find(): string {
    return 'open to anyone?';
  }
}

@Controller('health')
class HealthController {
  @Get('live')
  live(): string {
    return 'ok';
  }
}

async function start(controllers: (new () => unknown)[]) {
  const module = await Test.createTestingModule({ imports: [DiscoveryModule], controllers, providers: [RouteAccessCheck] }).compile();
  return module.init(); // runs onApplicationBootstrap, as the application's start does
}

describe('RouteAccessCheck', () => {
  it('refuses to start while a /v1 route declares no scope, naming it', async () => {
    await expect(start([DeclaredController, ForgottenController, HealthController])).rejects.toThrow(
      '/v1 routes without @Authorize (they would be refused for every caller): GET /v1/forgotten/:id',
    );
  });

  it('reads the handler’s declaration before the controller’s, and leaves routes outside /v1 alone', async () => {
    const app = await start([DeclaredController, HealthController]);
    const table = app.get(RouteAccessCheck).table();
    expect([...table]).toEqual([
      ['GET /v1/things', { scope: 'records:read' }],
      ['POST /v1/things', { scope: 'admin' }],
    ]);
    await app.close();
  });
});
