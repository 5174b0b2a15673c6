import { createVerify, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { z } from 'zod';

// Amazon SNS message signatures (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):
// the signing certificate is fetched over HTTPS from SigningCertURL, which must be an SNS host
// and a .pem path, then the canonical "Name\nvalue\n" string of the message's fields is verified
// with it (SignatureVersion 1: RSA-SHA1, 2: RSA-SHA256). Written here on node:crypto rather than
// taken from a package: AWS's sns-validator parses URLs with the deprecated url.parse() (a runtime
// deprecation warning on Node 24, with its documented security caveats) and fetches through the
// process-wide agent; sns-payload-validator hard-codes the host pattern. Either way the test could
// not serve its own certificate on loopback without reaching into the library.

export const snsMessageSchema = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1).max(200),
  TopicArn: z.string().min(1).max(300),
  Message: z.string(),
  Timestamp: z.string(),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().url(),
  Subject: z.string().optional(),
  Token: z.string().optional(),
  SubscribeURL: z.string().url().optional(),
  UnsubscribeURL: z.string().url().optional(),
});

export type SnsMessage = z.infer<typeof snsMessageSchema>;

export interface SnsVerifierOptions {
  /**
   * Hosts a signing certificate (and a subscription URL) may come from. Only code sets this (the
   * tests, to serve a certificate on loopback); the service always uses SNS's own hosts.
   */
  certificateHost?: RegExp;
  /** HTTPS agent for those requests (the tests trust their own certificate authority with it). */
  agent?: https.Agent;
}

export const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Signed fields, in the order SNS signs them (absent optional fields are left out). */
const SIGNED_FIELDS: Record<SnsMessage['Type'], (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

const MAX_CERTIFICATE_BYTES = 64 * 1024;
const CACHED_CERTIFICATES = 16;
const REQUEST_TIMEOUT_MS = 10_000;

export class SnsVerifier {
  private readonly host: RegExp;
  private readonly certificates = new Map<string, Promise<X509Certificate>>();

  constructor(private readonly options: SnsVerifierOptions = {}) {
    this.host = options.certificateHost ?? SNS_HOST;
  }

  /** True when the URL is HTTPS on an allowed host (for the certificate, also a .pem path). */
  allowedUrl(text: string, pem: boolean): boolean {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return false;
    }
    return url.protocol === 'https:' && this.host.test(url.hostname) && (!pem || url.pathname.endsWith('.pem'));
  }

  /** Verifies the message's signature; throws with the reason when it does not hold. */
  async verify(message: SnsMessage): Promise<void> {
    if (!this.allowedUrl(message.SigningCertURL, true)) {
      throw new Error('the signing certificate is not on an SNS host');
    }
    const certificate = await this.certificate(message.SigningCertURL);
    const now = Date.now();
    if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
      throw new Error('the signing certificate is not valid now');
    }
    const verifier = createVerify(message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    for (const field of SIGNED_FIELDS[message.Type]) {
      const value = message[field];
      if (value !== undefined) verifier.update(`${field}\n${value}\n`, 'utf8');
    }
    if (!verifier.verify(certificate.publicKey, message.Signature, 'base64')) {
      throw new Error('the message signature does not verify');
    }
  }

  /** Confirms a subscription by visiting its SubscribeURL (which must be an SNS host too). */
  async confirmSubscription(message: SnsMessage): Promise<void> {
    if (!message.SubscribeURL || !this.allowedUrl(message.SubscribeURL, false)) {
      throw new Error('the subscription URL is not on an SNS host');
    }
    await this.get(message.SubscribeURL);
  }

  private certificate(url: string): Promise<X509Certificate> {
    let certificate = this.certificates.get(url);
    if (!certificate) {
      certificate = this.get(url).then((pem) => new X509Certificate(pem));
      // A failed fetch is not kept: the next message tries again.
      certificate.catch(() => this.certificates.delete(url));
      this.certificates.set(url, certificate);
      while (this.certificates.size > CACHED_CERTIFICATES) {
        this.certificates.delete(this.certificates.keys().next().value as string);
      }
    }
    return certificate;
  }

  private get(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = https.get(url, { agent: this.options.agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`${url} answered ${response.statusCode ?? 'nothing'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_CERTIFICATE_BYTES) response.destroy(new Error(`${url} is too large`));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`${url} did not answer in time`)));
      request.on('error', reject);
    });
  }
}
