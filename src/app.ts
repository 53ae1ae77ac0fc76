import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { registerQueueDashboard } from './admin/queue-dashboard';
import { AppModule } from './app.module';
import { authenticateBeforeBody } from './auth/authentication.guard';
import { CallerAuthenticator } from './auth/caller-authenticator';
import { RouteAccessCheck } from './auth/route-access-check';
import { MAX_FORM_FIELDS } from './pipeline/artifact-target-fields';
import { AuditLogRecorder } from './auth/audit-log.recorder';
import { problems } from './common/problem';
import { ProblemFilter } from './common/problem.filter';
import { jobSubmissionProblem } from './pipeline/job-submission-problem';
import { databaseOutageProblem } from './database/database-outage';
import { SOURCE_ARCHIVE_MEDIA_TYPES, enforceContentTypes } from './common/content-types';
import { registerJsonParser } from './common/json-body';
import { registerSecurityHeaders } from './common/security-headers';
import { clientErrorHandler, limitBodyIdleTime, serverTimeoutOptions } from './common/request-timeouts';
import type { AppConfig } from './config/config.schema';
import { MetricsService } from './metrics/metrics.service';
import { buildOpenApiDocument, documentForSwaggerUiInit } from './openapi/openapi-document';
import { PipelineQueues } from './pipeline/pipeline-queues.service';
import { WebhookQueue } from './webhooks/webhook-queue.service';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the Nest application of the configured role (not yet listening). */
export async function createApp(config: AppConfig, options: { quiet?: boolean } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // Keep the caller's X-Request-Id when it is sane, else make one; pino-http reuses req.id.
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      (req as { id?: string }).id = id;
      return id;
    },
    // Idle keep-alive sockets are closed on shutdown so draining does not wait on them.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Slow and lying clients: headers and whole-request limits are Node's, answered by clientErrorHandler.
    ...serverTimeoutOptions(config.http.timeouts),
    clientErrorHandler: clientErrorHandler(config.http.timeouts),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRole(config), adapter, {
    // Nest's parsers would read forms and text into JSON routes; ours are registered below.
    bodyParser: false,
    bufferLogs: true,
    abortOnError: false,
    logger: options.quiet ? false : undefined,
  });
  if (!options.quiet) app.useLogger(app.get(Logger));
  await registerSecurityHeaders(app, { corsAllowedOrigins: config.cors.allowedOrigins });
  app.useGlobalFilters(new ProblemFilter([jobSubmissionProblem, databaseOutageProblem], config.http.bodyLimitBytes));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) =>
        problems.validation(errors.flatMap((e) => Object.values(e.constraints ?? { invalid: 'is invalid' }).map((message) => ({ field: e.property, message })))),
    }),
  );

  const fastify = app.getHttpAdapter().getInstance();
  const routeAccess = app.get(RouteAccessCheck);
  authenticateBeforeBody(fastify, app.get(CallerAuthenticator), config, () => routeAccess.table());
  registerJsonParser(fastify, config.http.bodyLimitBytes);
  fastify.removeContentTypeParser('text/plain');
  enforceContentTypes(fastify);
  limitBodyIdleTime(fastify, config.http.timeouts);
  const metrics = app.get(MetricsService);
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // The audit log's entry of each answer, written before the answer goes out (whatever path made it).
  const auditLog = app.get(AuditLogRecorder);
  fastify.addHook('onSend', async (request, reply, payload) => {
    await auditLog.recordResponse(request, reply, payload);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequestDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  if (config.role !== 'worker') {
    // .wasm uploads stream: the raw body reaches the handler unread, and so do multipart file parts.
    fastify.addContentTypeParser('application/wasm', (_request, payload, done) => done(null, payload));
    // So do source archives (POST /v1/builds): spooled and checked by the build request.
    fastify.addContentTypeParser(SOURCE_ARCHIVE_MEDIA_TYPES, (_request, payload, done) => done(null, payload));
    await app.register(multipart, { limits: { fileSize: config.uploads.maxBytes + 1, files: 1, fields: MAX_FORM_FIELDS, fieldSize: 64 * 1024 } });
    let initDocument: OpenAPIObject | undefined;
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
      jsonDocumentUrl: 'docs-json',
      customSiteTitle: 'wasm-signer API',
      // The same document everywhere; only the copy written into swagger-ui-init.js is escaped for it.
      patchDocumentOnRequest: <TRequest>(request: TRequest, _reply: unknown, document: OpenAPIObject) =>
        (request as FastifyRequest).url.split('?')[0]!.endsWith('/swagger-ui-init.js') ? (initDocument ??= documentForSwaggerUiInit(document)) : document,
    });
    if (config.admin.password) {
      await registerQueueDashboard(fastify, [...app.get(PipelineQueues).queues.values(), app.get(WebhookQueue).queue], config.admin.password);
    }
  }
  return app;
}

export type { INestApplication };
