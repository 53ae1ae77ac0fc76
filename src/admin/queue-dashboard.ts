import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Queue } from 'bullmq';
import { hasAdminCredentials } from './admin-credentials';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** Serves bull-board at /admin/queues (the step queues and the webhook queue) behind HTTP basic auth (user `admin`, ADMIN_PASSWORD). */
export async function registerQueueDashboard(fastify: FastifyInstance, queues: readonly Queue[], password: string): Promise<void> {
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue)), serverAdapter });
  await fastify.register(
    async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (!hasAdminCredentials(request.headers.authorization, password)) {
          await reply
            .status(401)
            .header('www-authenticate', 'Basic realm="wasm-signer admin", charset="UTF-8"')
            .header('content-type', 'application/problem+json')
            .send({ type: 'https://wasm-signer.dev/problems/unauthorized', title: 'Authentication is required', status: 401, code: 'UNAUTHORIZED' });
        }
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: QUEUE_DASHBOARD_PATH },
  );
}
