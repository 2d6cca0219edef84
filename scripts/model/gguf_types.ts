/** GGUF constants shared by the reader and the writer. */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = typeof GgufValueType[keyof typeof GgufValueType];

/** ggml tensor types faultline reads: floats, and the block-quantized types of scripts/model/quant.ts. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 } as const;
export type SupportedGgmlType = typeof GgmlType[keyof typeof GgmlType];

/** ggml tensor types: name, elements per block, bytes per block. */
const GGML_TYPES: Record<number, [string, number, number]> = {
  0: ["F32", 1, 4],
  1: ["F16", 1, 2],
  2: ["Q4_0", 32, 18],
  3: ["Q4_1", 32, 20],
  6: ["Q5_0", 32, 22],
  7: ["Q5_1", 32, 24],
  8: ["Q8_0", 32, 34],
  9: ["Q8_1", 32, 36],
  10: ["Q2_K", 256, 84],
  11: ["Q3_K", 256, 110],
  12: ["Q4_K", 256, 144],
  13: ["Q5_K", 256, 176],
  14: ["Q6_K", 256, 210],
  15: ["Q8_K", 256, 292],
  16: ["IQ2_XXS", 256, 66],
  17: ["IQ2_XS", 256, 74],
  18: ["IQ3_XXS", 256, 98],
  19: ["IQ1_S", 256, 50],
  20: ["IQ4_NL", 32, 18],
  21: ["IQ3_S", 256, 110],
  22: ["IQ2_S", 256, 82],
  23: ["IQ4_XS", 256, 136],
  24: ["I8", 1, 1],
  25: ["I16", 1, 2],
  26: ["I32", 1, 4],
  27: ["I64", 1, 8],
  28: ["F64", 1, 8],
  29: ["IQ1_M", 256, 56],
  30: ["BF16", 1, 2],
  34: ["TQ1_0", 256, 54],
  35: ["TQ2_0", 256, 66],
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPES[type]?.[0] ?? `unknown`;
}

export function isSupportedType(type: number): type is SupportedGgmlType {
  return (Object.values(GgmlType) as number[]).includes(type);
}

/** The names of the types faultline reads, for messages ("F32, F16, Q4_0, ..."). */
export function supportedTypeNames(): string {
  return Object.keys(GgmlType).join(", ");
}

/** Elements and bytes per block of a ggml type; undefined for a type faultline does not know. */
export function ggmlBlock(type: number): { elements: number; bytes: number } | undefined {
  const t = GGML_TYPES[type];
  return t ? { elements: t[1], bytes: t[2] } : undefined;
}

/** Byte size of `nElements` of a ggml type, or undefined for an unknown type or a partial block. */
export function ggmlByteSize(type: number, nElements: bigint): bigint | undefined {
  const t = GGML_TYPES[type];
  if (!t) return undefined;
  const [, block, bytes] = t;
  if (nElements % BigInt(block) !== 0n) return undefined;
  return (nElements / BigInt(block)) * BigInt(bytes);
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Bytes of one value of a fixed-size metadata type (not STRING or ARRAY); undefined for the others. */
export function ggufValueSize(type: number): number | undefined {
  return ({ 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 } as Record<number, number>)[
    type
  ];
}

/** The name of a metadata value type ("UINT32"), or "type N" for an unknown one. */
export function ggufValueTypeName(type: number): string {
  const found = Object.entries(GgufValueType).find(([, v]) => v === type);
  return found ? found[0] : `type ${type}`;
}
