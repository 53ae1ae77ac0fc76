import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { operationId } from '../openapi/openapi-document';
import { controllerRoutes } from './controller-routes';

/**
 * The action of each route, as the audit log names it: the route's OpenAPI operationId
 * (`ApiKeys_create`), so an entry reads like the API description. Found from the controllers' routing
 * metadata, the same that Nest registers the routes from and Swagger documents.
 */
@Injectable()
export class RouteActions {
  private byRoute: ReadonlyMap<string, string> | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** The operationId of `method route`; `METHOD path` for a request no controller route matched. */
  action(method: string, route: string | undefined, path: string): string {
    const upper = method.toUpperCase();
    // HEAD requests are answered by the GET route.
    const known = route === undefined ? undefined : this.routes().get(`${upper === 'HEAD' ? 'GET' : upper} ${route}`);
    return known ?? `${upper} ${route ?? path}`;
  }

  private routes(): ReadonlyMap<string, string> {
    this.byRoute ??= this.collect();
    return this.byRoute;
  }

  private collect(): Map<string, string> {
    return new Map(controllerRoutes(this.discovery, this.scanner).map((r) => [`${r.method} ${r.route}`, operationId(r.controller.name, r.methodName)]));
  }
}
