import CYaml

/// How deeply a YAML text nests lists and mappings, read event by event with libyaml's parser. Yams builds its
/// node tree recursively, one stack frame pair per level, so a few kilobytes of `[[[[…` or `{{{{…` overflow the
/// stack and kill the process (found by fuzzing, docs/fuzzing.md); libyaml's event parser keeps its own stacks on
/// the heap, so this pass is safe at any depth and lets the reader refuse such a file before Yams sees it.
enum YAMLNesting {
    /// No mtsync setting is more than 8 levels deep; this leaves room for any hand-written file.
    static let maximumDepth = 64

    /// The 1-based line and column of the first collection that opens deeper than `maximumDepth`, if any. Reading
    /// stops at the first syntax error: Yams reports that, and a text never gets deeper than up to its error.
    static func tooDeep(_ yaml: String) -> (line: Int, column: Int)? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var text = yaml
        return text.withUTF8 { bytes -> (line: Int, column: Int)? in
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var depth = 0
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > maximumDepth { return (Int(event.start_mark.line) + 1, Int(event.start_mark.column) + 1) }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
            return nil
        }
    }
}
