package interop;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;

/**
 * Signs a SOAP message with Apache WSS4J, as a CXF service signs its replies.
 *
 * Usage: WssSign IN.xml OUT.xml KEYSTORE.p12 PASSWORD SOAP_NS. The PKCS#12 key
 * store holds the key and certificate under the alias "signer". A Timestamp is
 * added; the Body and the Timestamp are signed (RSA-SHA256, SHA-256 digests,
 * exclusive C14N, the certificate in a BinarySecurityToken).
 */
public final class WssSign {
    public static void main(String[] args) throws Exception {
        org.apache.xml.security.Init.init();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        Document doc = factory.newDocumentBuilder().parse(new File(args[0]));

        KeyStore store = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(args[2])) {
            store.load(in, args[3].toCharArray());
        }
        Merlin crypto = new Merlin();
        crypto.setKeyStore(store);

        WSSecHeader header = new WSSecHeader();
        header.insertSecurityHeader(doc);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(doc, header);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo("signer", args[3]);
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
        signature.setDigestAlgo("http://www.w3.org/2001/04/xmlenc#sha256");
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart("Body", args[4], ""));
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        signature.setParts(parts);
        signature.build(doc, crypto, header);

        try (FileOutputStream out = new FileOutputStream(args[1])) {
            TransformerFactory.newInstance().newTransformer()
                .transform(new DOMSource(doc), new StreamResult(out));
        }
        System.out.println("SIGNED");
    }
}
