/// One page of search matches, in order, and where the next page starts (nil on the last page).
public struct SearchPage: Sendable {
    public let entries: [StoredResource]
    let next: SearchCursor?
}
