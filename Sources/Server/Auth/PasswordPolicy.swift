/// What a new password must satisfy, following NIST SP 800-63B: a length range and a blocklist, no composition
/// rules (they push people to predictable patterns without adding strength).
public enum PasswordPolicy {
    public static let minimumLength = 12
    /// bcrypt only reads the first 72 bytes; the cap bounds hashing work and request size, not strength.
    public static let maximumLength = 128

    /// Problems with a new password, empty when it is acceptable. Messages never contain the password.
    public static func problems(with password: String, email: String?) -> [String] {
        var problems: [String] = []
        let length = password.count
        if length < minimumLength {
            problems.append("The password must have at least \(minimumLength) characters.")
        } else if length > maximumLength {
            problems.append("The password must have at most \(maximumLength) characters.")
        }
        if password.unicodeScalars.contains("\u{0}") {
            // bcrypt reads a C string: everything after a NUL would be silently ignored.
            problems.append("The password must not contain a NUL character.")
        }
        let folded = password.lowercased()
        if blocklist.contains(folded) {
            problems.append("The password is too common; choose another one.")
        }
        if let email, !email.isEmpty, folded == email.lowercased() {
            problems.append("The password must not be the email address.")
        }
        return problems
    }

    /// Common passwords of at least 12 characters (shorter ones already fail the length rule), lowercase.
    static let blocklist: Set<String> = [
        "123456789012", "1234567890123", "12345678901234", "123456789012345", "1234567890123456",
        "098765432109", "111111111111", "000000000000", "121212121212", "123123123123",
        "123412341234", "112233445566", "147258369123", "987654321098", "666666666666",
        "password1234", "password12345", "password123456", "password1234567", "passwordpassword",
        "password!123", "password123!", "p@ssw0rd1234", "p@ssword1234", "passw0rd1234",
        "mypassword123", "mypassword1234", "password0000", "password2020", "password2021",
        "password2022", "password2023", "password2024", "password2025", "password2026",
        "qwertyuiopas", "qwertyuiop12", "qwertyuiop123", "qwerty123456", "qwertyqwerty",
        "1qaz2wsx3edc", "1q2w3e4r5t6y", "q1w2e3r4t5y6", "zaq12wsxcde3", "asdfghjkl123",
        "asdfghjklzxc", "zxcvbnm12345", "qazwsxedcrfv", "1234qwerasdf", "qwerasdfzxcv",
        "abcdefghijkl", "abcdefgh1234", "abcd12345678", "abc123abc123", "aaaaaaaaaaaa",
        "iloveyou1234", "iloveyou12345", "letmein12345", "letmein123456", "welcome12345",
        "welcome123456", "welcometo123", "changeme1234", "changeme12345", "administrator",
        "administrator1", "admin1234567", "adminadmin12", "admin123456789", "rootpassword",
        "superman1234", "batman123456", "football1234", "baseball1234", "basketball12",
        "monkey123456", "dragon123456", "sunshine1234", "princess1234", "starwars1234",
        "trustno11234", "whatever1234", "master123456", "shadow123456", "michael12345",
        "jennifer1234", "computer1234", "internet1234", "secret123456", "football12345",
        "hello1234567", "helloworld12", "helloworld123", "thequickbrownfox", "correcthorsebatterystaple",
        "summer2024!!", "winter2024!!", "spring2024!!", "autumn2024!!", "medicalrecords",
        "medrec123456", "hospital1234", "doctor123456", "patient12345", "healthcare123",
    ]
}
