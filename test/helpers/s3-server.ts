// A real S3-protocol server on loopback for the replica tests: s3rver (an npm devDependency) keeping
// its objects in a temp folder, with one bucket. The tests reach it only through Bun's S3Client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'

export const S3_KEY = 'S3RVER'
export const S3_SECRET = 'S3RVER'

export interface S3Server {
  readonly port: number
  readonly endpoint: string
  readonly bucket: string
  /** the S3_* environment a server process needs to reach it (through `endpoint`, or another) */
  env(endpoint?: string): Record<string, string>
  close(): Promise<void>
}

export async function startS3Server(bucket = 'replica-test'): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'))
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] })
  const info = (await server.run()) as unknown as { port: number }
  const endpoint = `http://127.0.0.1:${info.port}`
  return {
    port: info.port,
    endpoint,
    bucket,
    env: (at = endpoint) => ({ S3_ACCESS_KEY_ID: S3_KEY, S3_SECRET_ACCESS_KEY: S3_SECRET, S3_ENDPOINT: at, S3_REGION: 'us-east-1' }),
    async close() {
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
