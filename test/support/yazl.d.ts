// yazl (a dev dependency that writes zip files for tests) ships no types; these cover what the tests use.
declare module 'yazl' {
  import type { Readable } from 'node:stream';

  export interface EntryOptions {
    mtime?: Date;
    /** Unix mode with the file type bits (0o100644, 0o120777 for a link whose content is its target). */
    mode?: number;
    compress?: boolean;
    compressionLevel?: number;
    forceZip64Format?: boolean;
    size?: number;
  }

  export class ZipFile {
    outputStream: Readable;
    addBuffer(buffer: Buffer, metadataPath: string, options?: EntryOptions): void;
    addReadStream(readStream: Readable, metadataPath: string, options?: EntryOptions): void;
    addEmptyDirectory(metadataPath: string, options?: { mtime?: Date; mode?: number }): void;
    end(options?: { forceZip64Format?: boolean; comment?: string }, calculatedTotalSizeCallback?: (totalSize: number) => void): void;
  }
}
