// Types for the `linebreak` package (UAX #14 line breaking), which ships none.
declare module 'linebreak' {
  interface Break {
    /** Where the next line may start, as a UTF-16 index. */
    position: number;
    /** A mandatory break (a line feed, a paragraph separator). */
    required: boolean;
  }
  export default class LineBreaker {
    constructor(text: string);
    nextBreak(): Break | null;
  }
}
