import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ROUTE_ACCESS, type RouteAccess } from '../access/authorize';
import { PROTECTED_PREFIX } from './authentication.guard';
import { controllerRoutes } from './controller-routes';

/** Every `/v1` route of the application (and any other with `@Authorize`), with what it declares, by `METHOD /route`. */
export function routeAccessTable(discovery: DiscoveryService, scanner: MetadataScanner, reflector: Reflector): Map<string, RouteAccess | undefined> {
  const table = new Map<string, RouteAccess | undefined>();
  for (const { method, route, controller, handler } of controllerRoutes(discovery, scanner)) {
    if (!`${route}/`.startsWith(PROTECTED_PREFIX) && !Reflect.hasMetadata(ROUTE_ACCESS, handler)) continue;
    table.set(`${method} ${route}`, reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [handler as () => void, controller]));
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
