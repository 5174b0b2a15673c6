// @ts-check
// The MJML compiler's thread (see mjml-compiler.ts). Plain JavaScript, so the same file runs under
// the test runner (from source) and from the built `dist/`: a worker thread gets no TypeScript loader.
import { parentPort } from 'node:worker_threads';
import mjml2html from 'mjml';

if (!parentPort) throw new Error('mjml-worker.js runs as a worker thread of MjmlCompiler');
const port = parentPort;

/** @param {unknown} error */
function messagesOf(error) {
  // Strict validation throws a ValidationError listing every problem in `errors`.
  const listed = /** @type {{ errors?: { formattedMessage?: string; message?: string }[] }} */ (error).errors;
  if (Array.isArray(listed) && listed.length > 0)
    return listed.map((e) => e.formattedMessage ?? e.message ?? JSON.stringify(e));
  return [error instanceof Error ? error.message : String(error)];
}

/** @param {{ id: number; mjml: string }} request */
async function compile(request) {
  try {
    const result = await mjml2html(request.mjml, { validationLevel: 'strict', keepComments: false });
    port.postMessage({ id: request.id, html: result.html, errors: result.errors.map((e) => e.formattedMessage) });
  } catch (error) {
    port.postMessage({ id: request.id, html: '', errors: messagesOf(error) });
  }
}

port.on('message', (/** @type {{ id: number; mjml: string }} */ request) => void compile(request));
