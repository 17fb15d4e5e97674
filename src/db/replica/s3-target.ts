// A replica in an S3-compatible bucket (Hugging Face's S3 gateway, R2, MinIO, AWS) through Bun's own
// S3Client. An object is written by one PUT and is immutable, as a segment must be.
import { S3Client } from 'bun'
import type { S3Credentials } from '../../config-types.ts'
import type { ReplicaTarget } from './target.ts'

export class S3Target implements ReplicaTarget {
  private readonly client: S3Client
  private readonly prefix: string

  constructor(t: { bucket: string; prefix: string; credentials: S3Credentials }, readonly description: string) {
    const c = t.credentials
    this.client = new S3Client({
      bucket: t.bucket,
      ...(c.accessKeyId ? { accessKeyId: c.accessKeyId } : {}),
      ...(c.secretAccessKey ? { secretAccessKey: c.secretAccessKey } : {}),
      ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      ...(c.region ? { region: c.region } : {}),
    })
    this.prefix = t.prefix ? `${t.prefix}/` : ''
  }

  async put(key: string, data: Uint8Array | { localPath: string }): Promise<void> {
    await this.client.write(this.prefix + key, data instanceof Uint8Array ? data : Bun.file(data.localPath))
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await this.client.file(this.prefix + key).arrayBuffer())
    } catch (e) {
      if ((e as { code?: string }).code === 'NoSuchKey') return null
      throw e
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    let continuationToken: string | undefined
    do {
      const page = await this.client.list({ prefix: this.prefix + prefix, maxKeys: 1000, ...(continuationToken ? { continuationToken } : {}) })
      for (const o of page.contents ?? []) keys.push(o.key.slice(this.prefix.length))
      continuationToken = page.isTruncated ? page.nextContinuationToken : undefined
    } while (continuationToken)
    return keys.sort()
  }

  async delete(key: string): Promise<void> {
    await this.client.delete(this.prefix + key)
  }
}
