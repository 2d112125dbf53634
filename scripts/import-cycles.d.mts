/** Types of scripts/import-cycles.mjs (for test/architecture.test.ts). */
export interface DirectoryCycle {
  /** The top-level src/ folders of one strongly connected group. */
  directories: string[];
  /** The folder edges inside the group ('from -> to') and the file edges behind each. */
  edges: Array<{ edge: string; files: string[] }>;
}

export interface ImportCycles {
  /** Groups of files that import each other (directly or through one another). */
  fileCycles: string[][];
  directoryCycles: DirectoryCycle[];
}

export function importGraph(srcDir?: string): Map<string, Set<string>>;
export function topDirectory(file: string): string | null;
export function checkImportCycles(options?: {
  allowDirectories?: readonly string[];
  srcDir?: string;
}): ImportCycles;
export function formatReport(result: ImportCycles): string;
