import { Injectable, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { operationId } from '../openapi/openapi-document';

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
    const routes = new Map<string, string>();
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!controller?.prototype) continue;
      const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined);
      const prototype = controller.prototype as Record<string, unknown>;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[methodName] as object;
        const methodPaths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (methodPaths === undefined || requestMethod === undefined) continue;
        for (const controllerPath of controllerPaths) {
          for (const methodPath of asList(methodPaths)) {
            routes.set(`${RequestMethod[requestMethod]} ${routePattern(controllerPath, methodPath)}`, operationId(controller.name, methodName));
          }
        }
      }
    }
    return routes;
  }
}

const asList = (paths: string | string[] | undefined): string[] => (paths === undefined ? ['/'] : Array.isArray(paths) ? paths : [paths]);

/** `v1/api-keys` and `:id` → `/v1/api-keys/:id`, as Nest registers it with Fastify. */
export const routePattern = (controllerPath: string, methodPath: string): string =>
  `/${[controllerPath, methodPath]
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter((part) => part !== '')
    .join('/')}`;
