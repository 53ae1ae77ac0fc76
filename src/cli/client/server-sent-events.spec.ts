import { serverSentEvents } from './server-sent-events';

const streamOf = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

describe('serverSentEvents', () => {
  it('reads events split anywhere across chunks, skipping comments, joining data lines', async () => {
    const events = [];
    for await (const event of serverSentEvents(streamOf('id: 1\nevent: job\nda', 'ta: {"a":1}\n\n: keep-alive\n\n', 'data: x\r\ndata: y\r\n\r\nevent: job\ndata:{"b":2}\n\n')))
      events.push(event);
    expect(events).toEqual([
      { event: 'job', data: '{"a":1}' },
      { event: 'message', data: 'x\ny' },
      { event: 'job', data: '{"b":2}' },
    ]);
  });
});
