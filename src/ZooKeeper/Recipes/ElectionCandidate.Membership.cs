namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    /// <summary>
    /// Our place in the election within one session: the guid our next node is named by, whether a create for it may have
    /// been applied without our seeing the reply, and our node once known. Every guid of the session is remembered, so a
    /// node of an earlier one that turns up late is recognised as ours and removed instead of blocking the election.
    /// </summary>
    private sealed class Membership
    {
        private readonly List<string> prefixes = [];

        public Membership() => Renew();

        /// <summary>"_c_{guid}-n_": what our next node's name starts with.</summary>
        public string Prefix { get; private set; } = "";

        /// <summary>A create for <see cref="Prefix"/> may have been applied unseen: look for it before creating again.</summary>
        public bool LookupPending { get; set; }

        public string? Node { get; set; }

        /// <summary>Takes a new guid for the next node; the old ones stay ours.</summary>
        public void Renew()
        {
            Prefix = $"{NamePrefix}{Guid.NewGuid():D}{SequenceMarker}";
            prefixes.Add(Prefix);
            LookupPending = false;
            Node = null;
        }

        /// <summary>True when <paramref name="name"/> carries one of this session's guids.</summary>
        public bool Created(string name) => prefixes.Exists(p => name.StartsWith(p, StringComparison.Ordinal));
    }
}
