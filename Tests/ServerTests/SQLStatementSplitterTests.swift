import Testing
@testable import Server

@Suite struct SQLStatementSplitterTests {
    @Test func splitsOnSemicolonsOutsideQuotesCommentsAndDollarBodies() {
        let sql = """
            -- a comment; not a statement
            CREATE TABLE a (x text DEFAULT 'semi;colon', "odd;name" int);
            /* block; /* nested; */ still comment; */
            INSERT INTO a (x) VALUES (E'it\\'s;'), ('it''s;');
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT $1::int
            """
        let statements = SQLStatementSplitter.statements(in: sql)
        #expect(statements.count == 5)
        #expect(statements.map(\.line) == [2, 4, 5, 6, 7])
        #expect(statements[0].text.hasSuffix("\"odd;name\" int)"))
        #expect(statements[1].text.hasSuffix("('it''s;')"))
        #expect(statements[2].text.hasSuffix("END; $body$"))
        #expect(statements[3].text == "DO $$ BEGIN PERFORM 1; END $$")
        #expect(statements[4].text == "SELECT $1::int")
    }

    @Test func dropsCommentOnlyAndEmptyStatements() {
        #expect(SQLStatementSplitter.statements(in: ";; -- nothing\n/* at all */;\n").isEmpty)
    }
}
