// The parts of an open workshop a person can move between.
export type Section = 'board' | 'challenges' | 'values' | 'reflect' | 'news' | 'export' | 'away';
