namespace Pipeline.ZooKeeper.Client;

/// <summary>ZooKeeper's path rules (PathUtils), checked before a request is sent so a bad path is an ArgumentException, not a server error.</summary>
public static class PathRules
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="path"/> is a valid znode path. Sequential
    /// creates may end in "/" (the server appends the sequence number), so they are checked with a "1" appended.</summary>
    public static void Validate(string path, bool sequential = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var checkedPath = sequential ? path + "1" : path;
        var problem = Problem(checkedPath);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid ZooKeeper path '{path}': {problem}.", nameof(path));
        }
    }

    /// <summary>The parent of <paramref name="path"/>: "/a/b" -> "/a", "/a" -> "/".</summary>
    public static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    /// <summary>"/a" + "b" -> "/a/b"; "/" + "b" -> "/b".</summary>
    public static string Combine(string parent, string child) => parent == "/" ? "/" + child : parent + "/" + child;

    private static string? Problem(string path)
    {
        if (path.Length == 0)
        {
            return "it is empty";
        }

        if (path[0] != '/')
        {
            return "it must start with /";
        }

        if (path.Length == 1)
        {
            return null;
        }

        if (path[^1] == '/')
        {
            return "it must not end with /";
        }

        var segmentStart = 1;
        for (var i = 1; i <= path.Length; i++)
        {
            if (i == path.Length || path[i] == '/')
            {
                var segment = path.AsSpan(segmentStart, i - segmentStart);
                if (segment.IsEmpty)
                {
                    return $"empty segment at index {i}";
                }

                if (segment is "." or "..")
                {
                    return "relative segments (. and ..) are not allowed";
                }

                segmentStart = i + 1;
                continue;
            }

            var c = path[i];
            if (c == '\0' || (c > '\u0000' && c <= '\u001f') || (c >= '\u007f' && c <= '\u009f') || (c >= '\ud800' && c <= '\uf8ff') || c >= '\ufff0')
            {
                return $"invalid character U+{(int)c:X4} at index {i}";
            }
        }

        return null;
    }
}
