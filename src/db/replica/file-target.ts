// A replica in a local folder, e.g. a Hugging Face Storage Bucket mounted at /data. A bucket mount
// uploads a file when it is closed, so each file is written in one go at its final name and closed:
// no temp file and rename, no appends. Owner-only, like backups: the files hold password and token hashes.
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import type { ReplicaTarget } from './target.ts'

export class FileTarget implements ReplicaTarget {
  constructor(
    private readonly root: string,
    readonly description: string,
  ) {}

  private path(key: string): string {
    return join(this.root, ...key.split('/'))
  }

  async put(key: string, data: Uint8Array | { localPath: string }): Promise<void> {
    const path = this.path(key)
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    // a local snapshot is made owner-only first (takeLocalSnapshot); copyFile keeps its mode
    if (data instanceof Uint8Array) await writeFile(path, data, { mode: 0o600 })
    else await copyFile(data.localPath, path)
  }

  async get(key: string): Promise<Uint8Array | null> {
    const file = Bun.file(this.path(key))
    if (!(await file.exists())) return null
    return new Uint8Array(await file.arrayBuffer())
  }

  async list(prefix: string): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(this.root, { recursive: true, withFileTypes: false })
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return []
      throw e
    }
    const keys: string[] = []
    for (const name of names) {
      const key = relative(this.root, join(this.root, name)).split(sep).join('/')
      if (key.startsWith(prefix) && (await Bun.file(this.path(key)).exists())) keys.push(key)
    }
    return keys.sort()
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true })
  }
}
