import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileTypeFromBuffer } from 'file-type';
import type { Services } from '../../src/app/services.js';
import { insertMedia } from '../library-repository.js';

/** Raster formats every mail client shows. SVG is left out on purpose: it can carry script. */
const ALLOWED: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

export interface UploadedFile {
  originalname: string;
  buffer: Buffer;
  size: number;
}

export class MediaRejected extends Error {}

/**
 * Stores an uploaded image in DATA_DIR/media under a random name and records it. The type is read
 * from the file's first bytes (file-type), never from its name or the browser's claimed type.
 * Returns the site-relative URL (`/media/…`); the email renderer makes it absolute with BASE_URL.
 */
export async function storeImage(
  services: Services,
  file: UploadedFile,
  alt: string,
): Promise<{ url: string; alt: string }> {
  const detected = await fileTypeFromBuffer(file.buffer);
  const ext = detected ? ALLOWED[detected.mime] : undefined;
  if (!detected || !ext) {
    throw new MediaRejected(
      `“${file.originalname}” is not a PNG, JPEG, GIF or WebP image${detected ? ` (it is ${detected.mime})` : ''}; choose an image file.`,
    );
  }
  const filename = `${new Date().toISOString().slice(0, 10)}-${randomBytes(8).toString('hex')}.${ext}`;
  mkdirSync(services.config.mediaDir, { recursive: true });
  writeFileSync(path.join(services.config.mediaDir, filename), file.buffer, { flag: 'wx' });
  await insertMedia(services.db, {
    filename,
    originalName: file.originalname.slice(0, 200),
    mime: detected.mime,
    size: file.size,
    alt,
  });
  return { url: `/media/${filename}`, alt };
}

/** Markdown for an image, with the alt text escaped so it cannot close the brackets. */
export function imageMarkdown(url: string, alt: string): string {
  return `![${alt.replace(/[[\]\\]/g, (c) => `\\${c}`).replace(/\s+/g, ' ')}](${url})`;
}
