import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/config.schema';

/**
 * Structured JSON logs (pino), one line per request. Every line written while handling a request carries
 * its `requestId`; every line written in a pipeline step its `jobId` and `step` (withLogContext).
 * Credentials never reach the log: authorization headers, cookies and any field named like a token or
 * secret are redacted.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.idToken',
  '*.accessToken',
  '*.password',
  '*.secret',
  '*.authorization',
];

const QUIET_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);

@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            base: { instance: config.instanceId, role: config.role },
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            autoLogging: { ignore: (req) => QUIET_ROUTES.has((req.url ?? '').split('?')[0]!) },
            // Every line written while a request is handled (Nest's Logger goes through this child logger) names it.
            customProps: (req) => ({ requestId: req.id }),
            customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
            serializers: {
              req: (req: { id: string; method: string; url: string; headers: Record<string, unknown> }) => ({
                id: req.id,
                method: req.method,
                url: req.url,
                userAgent: req.headers['user-agent'],
              }),
            },
          },
        }),
      ],
    };
  }
}
