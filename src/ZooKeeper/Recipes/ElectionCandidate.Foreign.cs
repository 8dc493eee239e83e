using Microsoft.Extensions.Logging;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    private readonly HashSet<string> foreign = new(StringComparer.Ordinal);
    private long foreignGeneration = -1;

    /// <summary>Brings the foreign nodes up to a new listing: those of another incarnation of the path (another czxid) or
    /// no longer listed are forgotten; a name not of an election node's form is foreign by its name alone. Nodes found not
    /// ephemeral stay known, so they are read once, not on every evaluation.</summary>
    private void NoteListing(long generation, IReadOnlyList<string> children)
    {
        var changed = false;
        if (generation != foreignGeneration)
        {
            foreignGeneration = generation;
            changed = foreign.Count > 0;
            foreign.Clear();
        }

        var listed = children.ToHashSet(StringComparer.Ordinal);
        changed |= foreign.RemoveWhere(name => !listed.Contains(name)) > 0;
        foreach (var name in children.Where(c => ParseSequence(c) is null))
        {
            changed |= AddForeign(name, "is not named as an election node");
        }

        if (changed)
        {
            PublishForeign();
        }
    }

    private bool IsForeign(string name) => foreign.Contains(name);

    /// <summary>Notes a node named like a candidate that turned out not to be ephemeral.</summary>
    private void MarkForeign(string name)
    {
        if (AddForeign(name, "is not ephemeral"))
        {
            PublishForeign();
        }
    }

    private bool AddForeign(string name, string why)
    {
        if (!foreign.Add(name))
        {
            return false;
        }

        metrics.ForeignNodeSeen();
        logger.LogWarning("Election path {Path} holds {Node}, which {Why}: it is no candidate's and {NodeId} ignores it; it should be deleted",
            options.ElectionPath, name, why, options.NodeId);
        return true;
    }

    private void PublishForeign() => Volatile.Write(ref foreignNodes, [.. foreign.Order(StringComparer.Ordinal)]);
}
