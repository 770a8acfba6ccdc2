package interop;

import javax.activation.DataHandler;
import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlMimeType;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

@XmlRootElement(name = "downloadResponse", namespace = Interop.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "downloadResponse", namespace = Interop.NS)
public class DownloadResponse {
    @XmlElement(name = "data", namespace = "")
    @XmlMimeType("application/octet-stream")
    public DataHandler data;
}
