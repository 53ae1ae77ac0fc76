import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';

/** One route of a controller, as Nest registers it with Fastify. */
export interface ControllerRoute {
  /** `GET`, `POST`, … */
  method: string;
  /** Fastify's pattern, e.g. `/v1/api-keys/:id`. */
  route: string;
  controller: new (...args: never[]) => unknown;
  methodName: string;
  handler: object;
}

/**
 * Every route of the application's controllers, from the same routing metadata that Nest registers the
 * routes from and Swagger documents: for the route table of access (`@Authorize`) and the audit log's
 * action names.
 */
export function controllerRoutes(discovery: DiscoveryService, scanner: MetadataScanner): ControllerRoute[] {
  const routes: ControllerRoute[] = [];
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
    if (!controller?.prototype) continue;
    const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined);
    const prototype = controller.prototype as Record<string, unknown>;
    for (const methodName of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[methodName] as object;
      const methodPaths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodPaths === undefined || requestMethod === undefined) continue;
      for (const controllerPath of controllerPaths) {
        for (const methodPath of asList(methodPaths)) {
          routes.push({ method: RequestMethod[requestMethod], route: routePattern(controllerPath, methodPath), controller, methodName, handler });
        }
      }
    }
  }
  return routes;
}

const asList = (paths: string | string[] | undefined): string[] => (paths === undefined ? ['/'] : Array.isArray(paths) ? paths : [paths]);

/** `v1/api-keys` and `:id` → `/v1/api-keys/:id`, as Nest registers it with Fastify. */
export const routePattern = (controllerPath: string, methodPath: string): string =>
  `/${[controllerPath, methodPath]
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter((part) => part !== '')
    .join('/')}`;
