import { ApiProperty } from '@nestjs/swagger';
import { CertificateDto } from './certificate-details.dto';
import type { TlogEntryVerification } from '../sigstore/tlog-entry-verification';
import type { TlogEntrySource, TlogEntryView } from './tlog-entry-view';

export class TlogEntryVerificationDto implements TlogEntryVerification {
  @ApiProperty({ description: "The signed entry timestamp verifies with the trust root's key for the entry's log ID, valid at the integrated time" })
  setVerified!: boolean;
  @ApiProperty({
    type: Boolean,
    nullable: true,
    description:
      'The RFC 6962 audit path leads from sha256(0x00 ‖ body) to the root hash, and that root hash is the one the signed checkpoint commits to; null when the entry has no inclusion proof',
  })
  inclusionProofVerified!: boolean | null;
  @ApiProperty({ type: Boolean, nullable: true, description: 'The checkpoint is signed by a trusted log key; null when there is none' }) checkpointVerified!: boolean | null;
  @ApiProperty({ description: "The UUID's last 64 hex digits are sha256(0x00 ‖ body)" }) leafHashMatchesUuid!: boolean;
  @ApiProperty({ type: [String], description: 'Why a check failed' }) failures!: string[];
}

export class TlogInclusionProofDto {
  @ApiProperty({ type: 'integer', description: 'Index of the leaf in the tree of the proof (for a sharded log, within its shard)' }) logIndex!: number;
  @ApiProperty({ type: 'integer' }) treeSize!: number;
  @ApiProperty({ description: 'Hex' }) rootHash!: string;
  @ApiProperty({ type: [String], description: 'Audit path, hex, leaf upwards' }) hashes!: string[];
  @ApiProperty({ type: String, nullable: true, description: 'Signed checkpoint (signed note)' }) checkpoint!: string | null;
}

/** A Rekor entry as `rekor-cli get` prints it (LogID, Index, IntegratedTime, UUID, Body), verified. */
export class TlogEntryDto implements TlogEntryView {
  @ApiProperty({ description: "Hex SHA-256 of the log's public key", example: 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d' }) LogID!: string;
  @ApiProperty({ type: 'integer', example: 79571823 }) Index!: number;
  @ApiProperty({ format: 'date-time', example: '2024-03-19T17:26:26Z', description: 'RFC 3339, UTC' }) IntegratedTime!: string;
  @ApiProperty({ example: '24296fb24b8ad77a…', description: 'Entry UUID (16-hex tree ID + 64-hex leaf hash)' }) UUID!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The decoded entry body: {apiVersion, kind, spec}' }) Body!: TlogEntryView['Body'];
  @ApiProperty({ enum: ['rekor', 'records'], description: "`rekor`: answered by the log; `records`: Rekor was unreachable, answered from this service's signature records" })
  source!: TlogEntrySource;
  @ApiProperty({ type: TlogInclusionProofDto, nullable: true }) inclusionProof!: TlogInclusionProofDto | null;
  @ApiProperty({ type: TlogEntryVerificationDto }) verification!: TlogEntryVerificationDto;
  @ApiProperty({
    type: CertificateDto,
    nullable: true,
    description: 'The signing certificate of a hashedrekord, rekord, dsse or intoto entry, decoded; null for key-based entries',
  })
  certificate!: CertificateDto | null;
}
