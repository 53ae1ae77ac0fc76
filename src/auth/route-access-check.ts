import { Injectable, type OnApplicationBootstrap, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ROUTE_ACCESS, type RouteAccess } from '../access/authorize';
import { PROTECTED_PREFIX } from './authentication.guard';

const joinPath = (...parts: string[]): string =>
  `/${parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;

/** Every `/v1` handler of the application (and any other with `@Authorize`), with what it declares, by `METHOD /path` (Fastify's route syntax). */
export function routeAccessTable(discovery: DiscoveryService, scanner: MetadataScanner, reflector: Reflector): Map<string, RouteAccess | undefined> {
  const table = new Map<string, RouteAccess | undefined>();
  for (const wrapper of discovery.getControllers()) {
    const { instance, metatype } = wrapper;
    if (!instance || !metatype) continue;
    const prefix = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name] as (...args: unknown[]) => unknown;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (path === undefined) continue;
      const full = joinPath(prefix, path);
      if (!`${full}/`.startsWith(PROTECTED_PREFIX) && !Reflect.hasMetadata(ROUTE_ACCESS, handler)) continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
      table.set(`${RequestMethod[method]} ${full}`, reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [handler, metatype]));
    }
  }
  return table;
}

/**
 * Refuses to start while a `/v1` route declares no scope: the guard would refuse it for everyone at
 * run time, and this says so at once, naming the route (like the pipeline's check for step handlers).
 */
@Injectable()
export class RouteAccessCheck implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  private cached: Map<string, RouteAccess | undefined> | undefined;

  /** The table, built once (controllers do not change after start). */
  table(): Map<string, RouteAccess | undefined> {
    this.cached ??= routeAccessTable(this.discovery, this.scanner, this.reflector);
    return this.cached;
  }

  onApplicationBootstrap(): void {
    const undeclared = [...this.table()].filter(([route, access]) => !access && route.split(' ')[1]!.startsWith(PROTECTED_PREFIX)).map(([route]) => route);
    if (undeclared.length > 0) throw new Error(`/v1 routes without @Authorize (they would be refused for every caller): ${undeclared.join(', ')}`);
  }
}
