using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>The server's sequence counter is a signed 32-bit int: after 2147483647 it names nodes "-2147483648" on. Read
/// as the unsigned value it counts, a wrapped sequence is newer than every positive one, so the order of the election and
/// the tokens keep growing across the first wrap; a name that is no election node's has no sequence at all.</summary>
public sealed class SequenceTests
{
    private const string Guid = "0f8fad5b-d9cb-469f-a165-70867728950e";

    [Theory]
    [InlineData("_c_" + Guid + "-n_0000000000", 0L)]
    [InlineData("_c_" + Guid + "-n_0000000007", 7L)]
    [InlineData("_c_" + Guid + "-n_2147483647", 2147483647L)]
    [InlineData("_c_" + Guid + "-n_-2147483648", 2147483648L)]
    [InlineData("_c_" + Guid + "-n_-2147483647", 2147483649L)]
    [InlineData("_c_" + Guid + "-n_-000000001", 4294967295L)] // -1, as the server's %010d writes it: a valid name, not "invalid"
    [InlineData("foreign-node", null)]
    [InlineData("_c_guid-n_12", null)]
    [InlineData("_c_guid-n_99999999999", null)]
    [InlineData("x_c_guid-n_0000000001", null)]
    public void Sequences_are_the_servers_unsigned_counter_or_none(string name, long? sequence)
    {
        Assert.Equal(sequence, ElectionCandidate.ParseSequence(name));
    }

    [Fact]
    public void Nodes_named_after_the_wrap_sort_after_those_named_before_it_and_invalid_names_are_left_out()
    {
        string[] children = [Name("-2147483647"), Name("2147483646"), "notes", Name("-2147483648"), Name("2147483647"), Name("-000000001")];

        var sorted = ElectionCandidate.Sorted(children).ToList();

        Assert.Equal([Name("2147483646"), Name("2147483647"), Name("-2147483648"), Name("-2147483647"), Name("-000000001")], sorted.Select(c => c.Name));
        var tokens = sorted.Select(c => new FencingToken(42, c.Sequence)).ToList();
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    private static string Name(string sequence) => $"_c_{Guid}-n_{sequence}";
}
