import Foundation
import MTSyncCore

// What the feed's marks and days are: the values the builder reads and settles.
extension DailyFeedStore {
    /// A marked (server, login, UTC day) with what the accounts table knows of the login.
    public struct LoginMark: Sendable, Hashable {
        public var server: String
        public var login: UInt64
        /// `YYYY-MM-DD`.
        public var utcDay: String
        public var accountKnown: Bool
        public var group: String?
        public var customerID: String?
        /// Whether any of the login's facts that UTC day counts (is sent): a demo group's have none.
        public var hasCountedFacts: Bool
    }

    /// A customer's trading day.
    public struct CustomerDay: Sendable, Hashable, Comparable {
        public var customerID: String
        /// `YYYY-MM-DD`.
        public var day: String

        public init(customerID: String, day: String) {
            self.customerID = customerID
            self.day = day
        }

        public static func < (lhs: CustomerDay, rhs: CustomerDay) -> Bool { (lhs.day, lhs.customerID) < (rhs.day, rhs.customerID) }
    }

    /// What counts as a deposit (docs/ingest.md): fact kinds whose positive amounts count, and comment masks
    /// (`*` wildcard, case ignored) whose operations never count.
    public struct DepositRule: Sendable, Hashable {
        public var kinds: [String]
        public var excludedComments: [String]

        public init(kinds: [String] = ["balance"], excludedComments: [String] = []) {
            self.kinds = kinds
            self.excludedComments = excludedComments
        }

        /// The masks as ILIKE patterns: `*` → `%`, and ILIKE's own `%`, `_` and `\` escaped.
        var likePatterns: [String] {
            excludedComments.map { mask in
                var pattern = ""
                for character in mask {
                    switch character {
                    case "*": pattern += "%"
                    case "%", "_", "\\": pattern += "\\" + String(character)
                    default: pattern.append(character)
                    }
                }
                return pattern
            }
        }
    }
}
