// @ts-check
// The MJML compiler's process (see mjml-compiler.ts). Plain JavaScript, so the same file runs under
// the test runner (from source) and from the built `dist/`: the child gets no TypeScript loader.
import mjml2html from 'mjml';

if (!process.send) throw new Error('mjml-process.js runs as a child process of MjmlCompiler, with a message channel');

/** @param {{ id: number; html: string; errors: string[] }} reply */
function send(reply) {
  // A parent that closed the channel meanwhile wants no answer: the callback takes the write error.
  if (process.connected) process.send?.(reply, undefined, undefined, () => {});
}

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
    send({ id: request.id, html: result.html, errors: result.errors.map((e) => e.formattedMessage) });
  } catch (error) {
    send({ id: request.id, html: '', errors: messagesOf(error) });
  }
}

process.on('message', (/** @type {{ id: number; mjml: string }} */ request) => void compile(request));
// The parent ended the channel, or died: nothing is left to compile for.
process.on('disconnect', () => process.exit(0));
